package odata

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/auditlog-exporter/auditlog-exporter/source/apiclient"
)

// DefaultRetention is Neo's documented default: 201 days.
const DefaultRetention = 201 * 24 * time.Hour

// Retention returns how long the API keeps records, and where that figure
// came from: "configured" (source.retention_days), "api" (the Retention
// API, which needs the scope "Manage Audit Logs"), or "default" (201
// days, when the API does not tell). It never fails: not knowing is the
// default. The answer is asked once per client.
func (c *Client) Retention(ctx context.Context) (time.Duration, string) {
	if c.cfg.RetentionDays > 0 {
		return time.Duration(c.cfg.RetentionDays) * 24 * time.Hour, "configured"
	}
	c.retentionOnce.Do(func() {
		c.retention, c.retentionFrom = DefaultRetention, "default"
		if days, ok := c.askRetention(ctx); ok {
			c.retention, c.retentionFrom = time.Duration(days)*24*time.Hour, "api"
		}
	})
	return c.retention, c.retentionFrom
}

// askRetention makes one GET of the Retention API.
func (c *Client) askRetention(ctx context.Context) (int, bool) {
	var body struct {
		Retention *int `json:"retention"`
	}
	err := c.api.Try(ctx, c.retentionURL, func(_ http.Header, status int, r io.Reader) error {
		b, err := io.ReadAll(io.LimitReader(r, 4<<10))
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &body)
	})
	var se *apiclient.StatusError
	if errors.As(err, &se) {
		c.log.Debug().Int("status", se.Code).Msg("the Retention API did not answer (it needs the scope \"Manage Audit Logs\"); assuming the default retention of 201 days")
	}
	if err != nil || body.Retention == nil || *body.Retention < 1 || *body.Retention > 3650 {
		return 0, false
	}
	return *body.Retention, true
}
