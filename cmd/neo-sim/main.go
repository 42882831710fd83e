// Command neo-sim serves the Neo audit log API simulator on its own, for
// manual testing and benchmarks against a real HTTP endpoint.
package main

import (
	"context"
	"flag"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/odata/neosim"
	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
	"github.com/rs/zerolog"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8001", "address to serve on")
	account := flag.String("account", "demoacct", "technical subaccount name the credentials may read")
	nAccounts := flag.Int("accounts", 0, "serve this many subaccounts instead (<account>0001, <account>0002, ...), each with its own data and its own client: id <client-id>-<name>, secret <secret>-<name>")
	clientID := flag.String("client-id", "demo-client", "OAuth client id")
	clientSecret := flag.String("client-secret", "", "OAuth client secret (default: from NEO_SIM_CLIENT_SECRET, else \"demo-secret\")")
	hours := flag.Int("hours", 24, "generate records for this many hours before now")
	from := flag.String("from", "", "generate records from this RFC 3339 time (instead of --hours)")
	to := flag.String("to", "", "... up to this RFC 3339 time (default now)")
	late := flag.Float64("late-fraction", 0.05, "fraction of records that become visible 1-20 minutes after their Time")
	perHour := flag.Int("per-hour", 2000, "records per hour")
	seed := flag.Uint64("seed", 1, "data and fault seed")
	latency := flag.Duration("latency", 0, "added latency per API response")
	r429 := flag.Float64("rate-429", 0, "fraction of API requests answered 429")
	r5xx := flag.Float64("rate-5xx", 0, "fraction answered 500/502/503")
	rDrop := flag.Float64("rate-drop", 0, "fraction of connections dropped")
	rTrunc := flag.Float64("rate-truncate", 0, "fraction of bodies cut short")
	rHTML := flag.Float64("rate-html", 0, "fraction answered with an HTML page")
	rDup := flag.Float64("rate-duplicate", 0, "fraction of pages repeating a record")
	tokenUses := flag.Int("token-max-uses", 0, "tokens expire early after this many API requests (0: off)")
	ttl := flag.Duration("token-ttl", 1500*time.Second, "expires_in of issued tokens")
	pageSize := flag.Int("page-size", 1000, "records per page")
	gwRate := flag.Float64("gateway-rate", 0, "an API gateway in front: this many requests per second, 429 beyond (0: none)")
	gwBurst := flag.Int("gateway-burst", 0, "the gateway's burst (default: one second's worth)")
	gwAdmit := flag.Int("gateway-admit", 0, "a counting gateway in front, whatever the clock: of every N+K API requests the first N pass, the next K get 429 (N; 0: none)")
	gwRefuse := flag.Int("gateway-refuse", 1, "the counting gateway's K: requests refused after each --gateway-admit")
	gwRetryAfter := flag.String("gateway-retry-after", "1", "Retry-After with the gateways' 429: seconds, \"date\" or \"none\"")
	retryAfter := flag.String("retry-after", "1", "Retry-After sent with 429 and 503: seconds, \"date\" (an HTTP date) or \"none\"")
	readingsFlag := flag.String("readings", "documented", "how the API answers what SAP leaves undocumented, comma-separated: documented, all-odd, count=distinct|rows|none, stored-duplicates=F, shrinking-pages, exclusive-bounds, newest-first, nextlink-drops-filter, nextlink-other-path, nextlink-other-host")
	flag.Parse()
	readings, err := neosim.ParseReadings(*readingsFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo-sim:", err)
		os.Exit(2)
	}

	secret := *clientSecret
	if secret == "" {
		secret = os.Getenv("NEO_SIM_CLIENT_SECRET")
	}
	if secret == "" {
		secret = "demo-secret"
	}
	accounts := []string{*account}
	if *nAccounts > 0 {
		accounts = accounts[:0]
		for i := 1; i <= *nAccounts; i++ {
			accounts = append(accounts, fmt.Sprintf("%s%04d", *account, i))
		}
	}
	sim := neosim.New(neosim.Options{Accounts: accounts, PerAccountClients: *nAccounts > 0, ClientID: *clientID, ClientSecret: secret, TokenTTL: *ttl, Seed: *seed, Readings: readings, PageSize: *pageSize})
	now := time.Now().UTC()
	start, end := now.Add(-time.Duration(*hours)*time.Hour), now
	for _, f := range []struct {
		v   string
		dst *time.Time
	}{{*from, &start}, {*to, &end}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.v)
		if err != nil {
			fmt.Fprintln(os.Stderr, "neo-sim:", err)
			os.Exit(2)
		}
		*f.dst = t
	}
	lateFraction := *late
	if lateFraction == 0 {
		lateFraction = 1e-12 // Generate reads 0 as "default"
	}
	total := 0
	for i, a := range accounts {
		recs, vis := neosim.Generate(neosim.GenOptions{Account: a, From: start, To: end, PerHour: *perHour, Seed: *seed + uint64(i), LateFraction: lateFraction})
		sim.Add(vis, recs...)
		total += len(recs)
	}
	sim.SetFaults(neosim.Faults{Latency: *latency, Rate429: *r429, Rate5xx: *r5xx, RateDrop: *rDrop, RateTruncate: *rTrunc, RateHTML: *rHTML, RateDuplicate: *rDup, TokenMaxUses: *tokenUses, RetryAfter: *retryAfter,
		GatewayRate: *gwRate, GatewayBurst: *gwBurst, GatewayRetryAfter: *gwRetryAfter, GatewayAdmit: *gwAdmit, GatewayRefuse: *gwRefuse})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "neo-sim:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second, ErrorLog: stdlog.New(apiclient.StdLog{Log: zerolog.New(os.Stderr)}, "", 0)}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	fmt.Fprintf(os.Stderr, "neo-sim: %d records for %d account(s) from %q on http://%s (client id %q, readings %s)\n", total, len(accounts), accounts[0], ln.Addr(), *clientID, readings)
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "neo-sim:", err)
		os.Exit(1)
	}
}
