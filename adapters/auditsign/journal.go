package auditsign

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// DefaultJournalFile is the signed-head journal's file name inside APIQ_DATA_DIR.
const DefaultJournalFile = "audit-heads.jsonl"

// maxJournalLine bounds one line of the journal (a signed head is ~400 bytes).
const maxJournalLine = 64 << 10

// Journal is an append-only file of signed heads, one JSON object a line,
// kept next to the signing key: a copy of the published heads that a
// database superuser cannot reach, so deleting heads from the database is
// detected.
type Journal struct {
	path string
	mu   sync.Mutex
}

// NewJournal returns the journal at path (created on first append).
func NewJournal(path string) (*Journal, error) {
	if path == "" {
		return nil, errors.New("auditsign: journal path is empty")
	}
	return &Journal{path: path}, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Append writes heads at the end of the journal and syncs it to disk.
func (j *Journal) Append(heads ...SignedHead) error {
	if len(heads) == 0 {
		return nil
	}
	var buf []byte
	for _, h := range heads {
		line, err := json.Marshal(h)
		if err != nil {
			return fmt.Errorf("encode signed head of %q: %w", h.TenantID, err)
		}
		buf = append(append(buf, line...), '\n')
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return fmt.Errorf("audit head journal: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit head journal: %w", err)
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("append to audit head journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync audit head journal: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close audit head journal: %w", err)
	}
	return nil
}

// Each calls fn with every head in the journal, oldest first; a missing
// journal has none. A line that does not decode is an error (the journal
// is written only by Append).
func (j *Journal) Each(fn func(SignedHead) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit head journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), maxJournalLine)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var h SignedHead
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			return fmt.Errorf("audit head journal %s line %d: %w", j.path, line, err)
		}
		if err := fn(h); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read audit head journal: %w", err)
	}
	return nil
}
