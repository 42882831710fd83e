package source

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// FieldError is one problem with one key of a source's configuration,
// named by its path in the file (source.client_id, accounts[2].api_url).
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// FieldErrors lists every problem a source's configuration has.
type FieldErrors []FieldError

// Add records a problem with the key at path.
func (es *FieldErrors) Add(path, format string, args ...any) {
	*es = append(*es, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Setup is what a run gives every source it builds, beside the source's
// own keys: the account, the retry budget, the duplicate check's sizing,
// the run's gate for big pages and the logger (with the account set).
type Setup struct {
	Account    string
	MaxElapsed time.Duration
	Dedupe     DedupeConfig
	BigPages   *PageGate
	Log        zerolog.Logger
}
