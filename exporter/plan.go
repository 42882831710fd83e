package exporter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/state"
)

// AccountPlan is what a run would do for one account now.
type AccountPlan struct {
	Account string
	// Watermark is where the run would start: the saved watermark, or
	// export.start on the first run (Saved false).
	Watermark time.Time
	Saved     bool
	// Windows are the windows due; From and To the range they span.
	Windows  int
	From, To time.Time
	Err      error
}

// Plan says what Run would do now, per account, without asking the API
// anything and without writing anything: it reads the state and what the
// sinks hold.
func (e *Exporter) Plan(ctx context.Context) []AccountPlan {
	out := make([]AccountPlan, 0, len(e.o.Accounts))
	for _, a := range e.o.Accounts {
		p := AccountPlan{Account: a.Name}
		_, err := e.o.Store.Load(ctx, a.Name)
		p.Saved = err == nil
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			p.Err = fmt.Errorf("account %s: %w", a.Name, err)
			out = append(out, p)
			continue
		}
		st, err := e.startState(ctx, a.Name)
		if err != nil {
			p.Err = fmt.Errorf("account %s: %w", a.Name, err)
			out = append(out, p)
			continue
		}
		p.Watermark = st.Watermark
		due := e.o.Grid.Due(e.o.Now(), e.o.Lag)
		if due.After(st.Watermark) {
			ws, err := e.tiles(ctx, a.Name, st.Watermark, due)
			if err != nil {
				p.Err = fmt.Errorf("account %s: %w", a.Name, err)
				out = append(out, p)
				continue
			}
			if p.Windows = len(ws); p.Windows > 0 {
				p.From, p.To = ws[0].Start, ws[len(ws)-1].End
			}
		}
		out = append(out, p)
	}
	return out
}
