package smtp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Dir is a [Sender] that writes each message as a file instead of sending
// it: <path>/<UTC timestamp>-<message id>.eml, e.g.
// 20251123T010203.000000042Z-1D2X7K9Q3.5F8A1C0B2E4D@example.com.eml.
// It is the embedded default when no relay is configured: an operator (or
// a test) reads the files, or a mail client opens them.
//
// Each file is written to a temporary file in the same directory, synced
// and renamed into place, so a reader never sees a partial message. Files
// are created 0600 and the directory 0700: the messages carry set-password
// links.
type Dir struct {
	path   string
	from   Address
	logger *slog.Logger
	now    func() time.Time
}

var _ Sender = (*Dir)(nil)

// NewDir returns a Dir writing to path, creating it if needed, with from as
// the sender of every message. A nil logger discards logs.
func NewDir(path string, from Address, logger *slog.Logger) (*Dir, error) {
	if errs := from.validate("from"); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("create mail directory: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Dir{
		path:   path,
		from:   from,
		logger: logger.With(slog.String("component", "smtp"), slog.String("dir", path)),
		now:    time.Now,
	}, nil
}

// From returns the sender of every message.
func (d *Dir) From() Address { return d.from }

// String describes the sender for humans, e.g. "directory /var/lib/pbxgate/mail".
func (d *Dir) String() string { return "directory " + d.path }

// Send implements [Sender]. Write failures (disk full, permissions) are
// temporary; messages that cannot be composed are permanent failures.
func (d *Dir) Send(ctx context.Context, msg Message) (bool, error) {
	if err := ctx.Err(); err != nil {
		return true, classify(StageWrite, "write message", err)
	}
	now := d.now()
	if msg.Date.IsZero() {
		msg.Date = now
	}
	msg, data, err := composeBytes(d.from, msg)
	if err != nil {
		return false, classify(StageCompose, "compose message", err)
	}
	name := now.UTC().Format("20060102T150405.000000000Z") + "-" + fileSafe(msg.MessageID) + ".eml"
	if err := writeFileAtomic(filepath.Join(d.path, name), data); err != nil {
		return true, classify(StageWrite, "write message", err)
	}
	d.logger.DebugContext(ctx, "message written", slog.String("message_id", msg.MessageID), slog.String("file", name))
	return false, nil
}

// writeFileAtomic writes data to a temporary file beside name, syncs it and
// renames it to name, then syncs the directory (best effort).
func writeFileAtomic(name string, data []byte) (err error) {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, ".tmp-*.eml")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	if err = os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("rename to %s: %w", name, err)
	}
	// Best effort: the message is in place; failing now would only make
	// the caller write it a second time.
	if df, derr := os.Open(dir); derr == nil {
		_ = df.Sync()
		df.Close()
	}
	return nil
}

// fileSafe keeps letters, digits and ".@_-" and replaces anything else.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(".@_-", r):
			return r
		}
		return '_'
	}, s)
}
