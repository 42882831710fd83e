// Package errclass sorts errors into the few classes callers act on: retry,
// stop and fix the configuration, stop and fix the credentials, or give up on
// this unit of work. Every layer wraps with %w and the operation and subject;
// Classify finds the class anywhere in the chain.
package errclass

import (
	"context"
	"errors"
)

// Class is what a caller should do about an error.
type Class int

const (
	// Unknown errors are treated like Permanent ones by callers.
	Unknown Class = iota
	// Retryable errors may go away on their own (throttling, 5xx, a dropped
	// connection, a body cut short).
	Retryable
	// Permanent errors will not go away by retrying the same request (400,
	// 404, a record that cannot be parsed).
	Permanent
	// Auth errors mean the credentials or the account were refused.
	Auth
	// Config errors mean the configuration or the command line is wrong.
	Config
)

func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case Auth:
		return "auth"
	case Config:
		return "config"
	}
	return "unknown"
}

type classified struct {
	class Class
	err   error
}

func (e *classified) Error() string { return e.err.Error() }
func (e *classified) Unwrap() error { return e.err }

// Mark attaches class c to err. Mark(c, nil) is nil.
func Mark(c Class, err error) error {
	if err == nil {
		return nil
	}
	return &classified{class: c, err: err}
}

// Classify returns the outermost class attached to err. A cancelled or
// expired context is Retryable: the work was not done, and running again may
// do it.
func Classify(err error) Class {
	if err == nil {
		return Unknown
	}
	var c *classified
	if errors.As(err, &c) {
		return c.class
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Retryable
	}
	return Unknown
}
