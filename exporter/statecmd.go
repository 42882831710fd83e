package exporter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/errclass"
	"github.com/auditlog-exporter/auditlog-exporter/state"
)

// AccountState is what `state show` reports for one account.
type AccountState struct {
	Account    string    `json:"account"`
	Saved      bool      `json:"saved"`
	Watermark  time.Time `json:"watermark"`
	Window     string    `json:"window"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
	WindowsDue int       `json:"windows_due"`
	// Behind is how far the watermark trails the newest exportable boundary.
	Behind string `json:"behind"`
}

// Watermarks is what the state commands need to know of a configuration.
type Watermarks struct {
	Accounts []string
	Grid     Grid
	Lag      time.Duration
	Start    string // export.start: where an account without state begins
}

// ShowState reports every configured account's watermark and what is due.
func ShowState(ctx context.Context, c Watermarks, store Store, now time.Time) ([]AccountState, error) {
	g := c.Grid
	due := g.Due(now, c.Lag)
	var out []AccountState
	for _, account := range c.Accounts {
		as := AccountState{Account: account, Window: g.Size.String()}
		st, err := store.Load(ctx, account)
		switch {
		case errors.Is(err, state.ErrNotFound):
			start, perr := ParseTimeArg(c.Start, now)
			if perr != nil {
				return nil, errclass.Mark(errclass.Config, perr)
			}
			as.Watermark = g.Floor(start)
		case err != nil:
			return nil, err
		default:
			as.Saved, as.Watermark, as.UpdatedAt, as.Window = true, st.Watermark, st.UpdatedAt, st.Window.String()
		}
		if due.After(as.Watermark) {
			as.WindowsDue = int(due.Sub(as.Watermark) / g.Size)
			as.Behind = due.Sub(as.Watermark).String()
		} else {
			as.Behind = "0s"
		}
		out = append(out, as)
	}
	return out, nil
}

// SetState moves account's watermark to t, which must be a boundary of the
// configured grid and not in the future. Windows before t will not be
// exported by `run`; windows from t on will be (again).
func SetState(ctx context.Context, c Watermarks, store Store, account string, t time.Time, now time.Time, version string) (state.State, error) {
	if !slices.Contains(c.Accounts, account) {
		return state.State{}, errclass.Mark(errclass.Config, fmt.Errorf("account %q is not in the configuration", account))
	}
	g := c.Grid
	t = t.UTC()
	if t.After(now) {
		return state.State{}, errclass.Mark(errclass.Config, fmt.Errorf("watermark %s is in the future: a run would export nothing until then", t.Format(time.RFC3339)))
	}
	if !g.Aligned(t) {
		return state.State{}, errclass.Mark(errclass.Config, fmt.Errorf("watermark %s is not a boundary of the %s window grid (try %s)", t.Format(time.RFC3339), g.Size, g.Floor(t).Format(time.RFC3339)))
	}
	st, err := store.Load(ctx, account)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return state.State{}, err
	}
	st.Account, st.Watermark, st.Window, st.UpdatedAt, st.ExporterVersion = account, t, g.Size, now.UTC(), version
	rev, err := store.Save(ctx, st)
	if err != nil {
		return state.State{}, err
	}
	st.Rev = rev
	return st, nil
}
