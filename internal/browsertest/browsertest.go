// Package browsertest renders a page the way a person sees it: headless
// Chromium (Debian's chromium) loads it, and a test gets the text as laid
// out (innerText: hidden elements and markup left out) and a PNG of the
// whole page. Without a browser a test is skipped, except when CI=true,
// where a missing browser is a failure.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditlog-exporter/auditlog-exporter/internal/testtool"
)

// Browser returns the path of a Chromium, or "".
func Browser() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Page is a rendered page.
type Page struct {
	// Text is document.body.innerText: what a reader sees, in order.
	Text string
	// PNG is a screenshot of the whole page; Top of the first screen
	// (1280 x 900).
	PNG, Top []byte
	// Resources is how many resources the page fetched (images, styles,
	// scripts, fonts): a self-contained page fetches none.
	Resources int
	// SVGShapes counts the rectangles drawn in inline SVG with a
	// non-zero size as laid out.
	SVGShapes int
}

// Render loads the HTML file at path in headless Chromium.
func Render(t testing.TB, path string) Page {
	t.Helper()
	bin := Browser()
	if bin == "" {
		testtool.Missing(t, "no Chromium found (apt-get install chromium, or set CHROMIUM)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first Run starts the browser, and must not carry a timeout.
	if _, err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()
	fail := func(what string, err error) {
		if err != nil {
			t.Fatalf("render %s in %s: %s: %v", path, bin, what, err)
		}
	}
	var p Page
	var err error
	_, err = chromedp.Run(ctx, chromedp.Navigate("file://"+path))
	fail("load", err)
	_, err = chromedp.Run(ctx, chromedp.WaitReady("body"))
	fail("wait", err)
	p.Text, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	fail("text", err)
	p.Resources, err = chromedp.Run(ctx, chromedp.Evaluate[int](`performance.getEntriesByType("resource").length`))
	fail("resources", err)
	p.SVGShapes, err = chromedp.Run(ctx, chromedp.Evaluate[int](`Array.from(document.querySelectorAll("svg rect")).filter(r => { const b = r.getBoundingClientRect(); return b.width > 0 && b.height > 0 }).length`))
	fail("svg", err)
	p.PNG, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	fail("screenshot", err)
	p.Top, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	fail("screenshot", err)
	return p
}
