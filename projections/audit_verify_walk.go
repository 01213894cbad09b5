package projections

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/apiq/apiq/adapters/auditsign"
	"github.com/apiq/apiq/adapters/eventstore"
)

// verifyBatch is how many events or rows travel together through the
// verification pipeline.
const verifyBatch = 512

// preparedEvent is an event read for verification with the work that does
// not depend on its place in the chain done: its canonical bytes and the
// audit row it gives.
type preparedEvent struct {
	ev        eventstore.RecordedEvent
	canonical []byte
	derived   AuditRow
	// unreadable says why the stored metadata is not what APIQ writes.
	unreadable string
}

// walk recomputes the tenant's chain from its events and compares it with
// its rows and signed heads (sorted by row count), stopping at the first
// break. Reading the events, preparing them (decoding, canonical bytes,
// derived rows: on every core) and reading the rows run concurrently; the
// chain itself is hashed in order here.
func (s *auditSnapshot) walk(ctx context.Context, tenant string, heads []auditsign.SignedHead, tv *AuditTenantVerification) error {
	// Read before the events stream on the same connection.
	mark, err := readAuditMark(ctx, s.evTx, tenant)
	if err != nil {
		return fmt.Errorf("verify audit: %w", err)
	}
	evRows, err := s.evTx.Query(ctx, `
		SELECT event_id, stream_id, stream_version, transaction_id::text::bigint, global_position,
		       event_type, data, metadata, recorded_at
		  FROM events WHERE tenant_id = $1
		 ORDER BY events.transaction_id, events.global_position`, tenant)
	if err != nil {
		return fmt.Errorf("verify audit: read events of %q: %w", tenant, err)
	}
	var stored pgx.Rows
	if s.built {
		if stored, err = s.rowTx.Query(ctx, `SELECT `+auditColumns+` FROM `+AuditEventsTable()+` WHERE tenant_id = $1 ORDER BY seq`, tenant); err != nil {
			evRows.Close()
			return fmt.Errorf("verify audit: read audit rows of %q: %w", tenant, err)
		}
	}
	p := startVerifyPipeline(evRows, stored)
	defer p.finish()

	broken := func(seq int64, id uuid.UUID, reason, detail string) {
		tv.Broken = &AuditBreak{TenantID: tenant, Sequence: seq, EventID: id, Reason: reason, Detail: detail}
	}
	prev := AuditGenesisHash(tenant)
	row, err := p.nextRow()
	if err != nil {
		return fmt.Errorf("verify audit: read audit rows of %q: %w", tenant, err)
	}
	var seq int64
	h := 0 // next signed head to compare
	for {
		pe, ok, err := p.nextEvent()
		if err != nil {
			return fmt.Errorf("verify audit: read events of %q: %w", tenant, err)
		}
		if !ok {
			break
		}
		seq++
		ev := &pe.ev
		if pe.unreadable != "" {
			broken(seq, ev.ID, BreakEventUnreadable, fmt.Sprintf("event %s: metadata: %s", ev.ID, pe.unreadable))
			return nil
		}
		hash := AuditChainHash(prev, pe.canonical)
		tv.Checked++
		switch {
		case row != nil && row.seq == seq:
			if reason, detail := comparePrepared(row, pe, prev, hash); reason != "" {
				broken(seq, ev.ID, reason, detail)
				return nil
			}
			if row, err = p.nextRow(); err != nil {
				return fmt.Errorf("verify audit: read audit rows of %q: %w", tenant, err)
			}
		case seq <= mark.Seq:
			// Retention pruned the row: only a row of an event recorded
			// before the mark's time may be missing.
			if !ev.RecordedAt.Before(mark.Before) {
				broken(seq, ev.ID, BreakRowMissing, fmt.Sprintf("event %s (%s %s@%d), recorded at %s, has no audit row; retention pruned only rows recorded before %s",
					ev.ID, ev.Type, ev.StreamID, ev.Version, ev.RecordedAt.Format(time.RFC3339Nano), mark.Before.UTC().Format(time.RFC3339Nano)))
				return nil
			}
			tv.Pruned++
		case ev.Position.Compare(s.checkpoint) <= 0:
			broken(seq, ev.ID, BreakRowMissing, fmt.Sprintf("event %s (%s %s@%d) has no audit row", ev.ID, ev.Type, ev.StreamID, ev.Version))
			return nil
		default:
			tv.Pending++
		}
		for ; h < len(heads) && heads[h].RowCount == seq; h++ {
			if heads[h].Hash != hex.EncodeToString(hash) || heads[h].LastEventID != ev.ID {
				broken(seq, ev.ID, BreakSignedHeadMismatch, fmt.Sprintf(
					"the head signed at %s ends at event %s with hash %s; the events give event %s with hash %s",
					heads[h].SignedAt, heads[h].LastEventID, heads[h].Hash, ev.ID, hex.EncodeToString(hash)))
				return nil
			}
		}
		prev = hash
	}
	if row != nil {
		broken(row.seq, row.eventID, BreakRowWithoutEvent, fmt.Sprintf("audit row %d records event %s, which the event log does not hold there", row.seq, row.eventID))
		return nil
	}
	if h < len(heads) {
		broken(heads[h].RowCount, heads[h].LastEventID, BreakSignedHeadBeyondLog, fmt.Sprintf(
			"the head signed at %s covers %d events; the event log holds %d", heads[h].SignedAt, heads[h].RowCount, seq))
	}
	return nil
}

// comparePrepared compares a stored row with the chain recomputed at its
// place and with the row its event gives; it returns the break's reason
// and detail, or "" when they agree.
func comparePrepared(stored *storedRow, pe preparedEvent, prev, hash []byte) (string, string) {
	ev := &pe.ev
	if stored.eventID != ev.ID {
		return BreakEventMismatch, fmt.Sprintf("audit row %d records event %s; the event log has %s (%s %s@%d) there",
			stored.seq, stored.eventID, ev.ID, ev.Type, ev.StreamID, ev.Version)
	}
	if string(stored.raw[colPrevHash]) != string(prev) || string(stored.raw[colHash]) != string(hash) {
		return BreakHashMismatch, fmt.Sprintf("audit row %d has hash %x; the events give %x", stored.seq, stored.raw[colHash], hash)
	}
	if field := stored.difference(&pe.derived); field != "" {
		return BreakRowAltered, fmt.Sprintf("audit row %d: %s differs from event %s", stored.seq, field, ev.ID)
	}
	return "", ""
}

// Columns of auditColumns that storedRow reads by index.
const (
	colSeq      = 1
	colEventID  = 2
	colPrevHash = 25
	colHash     = 26
	auditCols   = 27
)

// storedRow is an audit row as read: the raw values of auditColumns (text
// columns as text, the others in PostgreSQL's binary formats), compared
// with a derived row without decoding them all.
type storedRow struct {
	raw     [][]byte
	seq     int64
	eventID uuid.UUID
}

// pgEpochMicros is 2000-01-01 UTC (PostgreSQL's timestamp epoch) in Unix microseconds.
const pgEpochMicros = 946684800000000

// readStoredRow copies the current row's raw values.
func readStoredRow(rows pgx.Rows) (storedRow, error) {
	vals := rows.RawValues()
	if len(vals) != auditCols {
		return storedRow{}, fmt.Errorf("audit row has %d columns, want %d", len(vals), auditCols)
	}
	n := 0
	for _, v := range vals {
		n += len(v)
	}
	buf := make([]byte, 0, n)
	r := storedRow{raw: make([][]byte, len(vals))}
	for i, v := range vals {
		start := len(buf)
		buf = append(buf, v...)
		r.raw[i] = buf[start:len(buf):len(buf)]
	}
	if len(r.raw[colSeq]) != 8 || len(r.raw[colEventID]) != 16 {
		return storedRow{}, fmt.Errorf("audit row: unexpected encoding of seq or event_id")
	}
	r.seq = int64(binary.BigEndian.Uint64(r.raw[colSeq]))
	copy(r.eventID[:], r.raw[colEventID])
	return r, nil
}

// checkRawFormats makes sure the columns arrive in the formats storedRow
// reads: text as text, bigint, timestamptz, uuid and bytea as binary.
func checkRawFormats(fds []pgconn.FieldDescription) error {
	if len(fds) != auditCols {
		return fmt.Errorf("audit rows have %d columns, want %d", len(fds), auditCols)
	}
	for _, fd := range fds {
		want := int16(pgx.BinaryFormatCode)
		if fd.DataTypeOID == pgtype.TextOID {
			want = pgx.TextFormatCode
		}
		if fd.Format != want {
			return fmt.Errorf("audit row column %s arrives in format %d, want %d", fd.Name, fd.Format, want)
		}
	}
	return nil
}

// difference names the first field of the stored row that differs from
// want, "" when none does.
func (r *storedRow) difference(want *AuditRow) string {
	text := func(i int, s string) bool { return string(r.raw[i]) == s }
	int8 := func(i int, v int64) bool { return len(r.raw[i]) == 8 && int64(binary.BigEndian.Uint64(r.raw[i])) == v }
	ts := func(i int, t time.Time) bool { return int8(i, t.UnixMicro()-pgEpochMicros) }
	a := &want.Actor
	checks := []struct {
		name  string
		equal bool
	}{
		{"tenant_id", text(0, want.TenantID)},
		{"position", int8(3, int64(want.Position.Commit)) && int8(4, int64(want.Position.Prepare))},
		{"occurred_at", ts(5, want.OccurredAt)},
		{"recorded_at", ts(6, want.RecordedAt)},
		{"actor", text(7, a.Subject) && text(8, a.Role) && text(9, a.AuthMethod) && text(10, a.TokenID) &&
			text(11, a.SSOIssuer) && text(12, a.SSOSubject)},
		{"client_ip", text(13, want.ClientIP)},
		{"user_agent", text(14, want.UserAgent)},
		{"request_id", text(15, want.RequestID)},
		{"action", text(16, want.Action)},
		{"resource", text(17, want.ResourceType) && text(18, want.ResourceID)},
		{"stream", text(19, want.StreamID) && int8(20, want.StreamVersion)},
		{"outcome", text(21, want.Outcome)},
		{"correlation_id", text(22, want.CorrelationID)},
		{"causation_id", text(23, want.CausationID)},
		{"summary", string(r.raw[24]) == string(want.Summary)},
	}
	for _, c := range checks {
		if !c.equal {
			return c.name
		}
	}
	return ""
}

// verifyPipeline streams prepared events and stored rows, in order.
type verifyPipeline struct {
	events chan chan eventBatch // batches in feed order, each filled by a worker
	rows   chan rowBatch
	// stop tells the readers to drain their result sets without work.
	stop    atomic.Bool
	done    sync.WaitGroup
	evBuf   []preparedEvent
	rowBuf  []storedRow
	evDone  bool
	rowDone bool
}

type eventBatch struct {
	events []preparedEvent
	err    error
}

type rowBatch struct {
	rows []storedRow
	err  error
}

// eventColumns is how many columns walk reads of each event.
const eventColumns = 9

// checkEventFormats makes sure the event columns arrive in the formats
// readRawEvent reads: text and jsonb as text, the others (uuid, bigint,
// timestamptz) as binary.
func checkEventFormats(fds []pgconn.FieldDescription) error {
	if len(fds) != eventColumns {
		return fmt.Errorf("events have %d columns, want %d", len(fds), eventColumns)
	}
	for _, fd := range fds {
		want := int16(pgx.BinaryFormatCode)
		if fd.DataTypeOID == pgtype.TextOID || fd.DataTypeOID == pgtype.JSONBOID {
			want = pgx.TextFormatCode
		}
		if fd.Format != want {
			return fmt.Errorf("event column %s arrives in format %d, want %d", fd.Name, fd.Format, want)
		}
	}
	return nil
}

// readRawEvent decodes an event row's raw values (event_id, stream_id,
// stream_version, commit and prepare positions, event_type, data,
// metadata, recorded_at) without pgx's generic scanning, copying what it
// keeps.
func readRawEvent(v [][]byte) (rawEvent, error) {
	var r rawEvent
	if len(v) != eventColumns {
		return r, fmt.Errorf("event row has %d columns, want %d", len(v), eventColumns)
	}
	int8 := func(b []byte) (int64, bool) {
		if len(b) != 8 {
			return 0, false
		}
		return int64(binary.BigEndian.Uint64(b)), true
	}
	data, meta := v[6], v[7]
	version, okVersion := int8(v[2])
	commit, okCommit := int8(v[3])
	gp, okGP := int8(v[4])
	recorded, okRecorded := int8(v[8])
	if len(v[0]) != 16 || v[1] == nil || v[5] == nil || data == nil || meta == nil || !okVersion || !okCommit || !okGP || !okRecorded {
		return r, errors.New("event row: unexpected encoding")
	}
	copy(r.ev.ID[:], v[0])
	names := string(v[1]) + string(v[5])
	r.ev.StreamID, r.ev.Type = names[:len(v[1])], names[len(v[1]):]
	r.ev.Version, r.commit, r.gp = version, commit, gp
	r.ev.RecordedAt = time.UnixMicro(recorded + pgEpochMicros).UTC()
	buf := make([]byte, len(data)+len(meta))
	copy(buf, data)
	copy(buf[len(data):], meta)
	r.ev.Data, r.meta = buf[:len(data):len(data)], buf[len(data):]
	return r, nil
}

// rawEvent is an event row as read, before decoding.
type rawEvent struct {
	ev         eventstore.RecordedEvent
	meta       []byte
	commit, gp int64
}

func startVerifyPipeline(evRows, stored pgx.Rows) *verifyPipeline {
	p := &verifyPipeline{events: make(chan chan eventBatch, 4*runtime.GOMAXPROCS(0)), rows: make(chan rowBatch, 4)}
	work := make(chan func(), runtime.GOMAXPROCS(0))
	var workers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for job := range work {
				job()
			}
		})
	}
	p.done.Go(func() {
		defer close(p.events)
		defer func() { close(work); workers.Wait() }()
		defer evRows.Close()
		formatErr := checkEventFormats(evRows.FieldDescriptions())
		for {
			batch := make([]rawEvent, 0, verifyBatch)
			err := formatErr
			for err == nil && len(batch) < verifyBatch && evRows.Next() {
				if p.stop.Load() {
					continue
				}
				var r rawEvent
				if r, err = readRawEvent(evRows.RawValues()); err != nil {
					break
				}
				batch = append(batch, r)
			}
			if err == nil {
				err = evRows.Err()
			}
			if len(batch) == 0 && err == nil {
				return
			}
			out := make(chan eventBatch, 1)
			p.events <- out
			if err != nil {
				out <- eventBatch{err: err}
				return
			}
			work <- func() { out <- eventBatch{events: prepareEvents(batch)} }
		}
	})
	if stored == nil {
		close(p.rows)
		return p
	}
	p.done.Go(func() {
		defer close(p.rows)
		defer stored.Close()
		formatErr := checkRawFormats(stored.FieldDescriptions())
		for {
			batch := make([]storedRow, 0, verifyBatch)
			err := formatErr
			for err == nil && len(batch) < verifyBatch && stored.Next() {
				if p.stop.Load() {
					continue
				}
				var r storedRow
				if r, err = readStoredRow(stored); err != nil {
					break
				}
				batch = append(batch, r)
			}
			if err == nil {
				err = stored.Err()
			}
			if len(batch) == 0 && err == nil {
				return
			}
			p.rows <- rowBatch{rows: batch, err: err}
			if err != nil {
				return
			}
		}
	})
	return p
}

// prepareEvents decodes each event and computes what does not depend on
// its place in the chain.
func prepareEvents(batch []rawEvent) []preparedEvent {
	out := make([]preparedEvent, len(batch))
	for i := range batch {
		r := &batch[i]
		pe := &out[i]
		pe.ev = r.ev
		pe.ev.Position = eventstore.Position{Commit: uint64(r.commit), Prepare: uint64(r.gp)}
		pe.ev.RecordedAt = eventstore.NormalizeTime(r.ev.RecordedAt)
		if err := decodeEnvelope(r.meta, &pe.ev.Metadata); err != nil {
			pe.unreadable = err.Error()
			continue
		}
		pe.canonical = AuditCanonicalBytes(pe.ev)
		pe.derived = DeriveAuditRow(pe.ev)
	}
	return out
}

// nextEvent returns the next prepared event; ok is false at the end.
func (p *verifyPipeline) nextEvent() (preparedEvent, bool, error) {
	for len(p.evBuf) == 0 {
		if p.evDone {
			return preparedEvent{}, false, nil
		}
		pending, open := <-p.events
		if !open {
			p.evDone = true
			continue
		}
		b := <-pending
		if b.err != nil {
			p.evDone = true
			return preparedEvent{}, false, b.err
		}
		p.evBuf = b.events
	}
	pe := p.evBuf[0]
	p.evBuf = p.evBuf[1:]
	return pe, true, nil
}

// nextRow returns the next stored row, nil at the end.
func (p *verifyPipeline) nextRow() (*storedRow, error) {
	for len(p.rowBuf) == 0 {
		if p.rowDone {
			return nil, nil
		}
		b, open := <-p.rows
		if !open {
			p.rowDone = true
			continue
		}
		if b.err != nil {
			p.rowDone = true
			return nil, b.err
		}
		p.rowBuf = b.rows
	}
	r := p.rowBuf[0]
	p.rowBuf = p.rowBuf[1:]
	return &r, nil
}

// finish stops the pipeline: the readers drain their result sets (the
// connections stay usable for the next tenant) and every goroutine ends.
func (p *verifyPipeline) finish() {
	p.stop.Store(true)
	go func() {
		for pending := range p.events {
			<-pending
		}
	}()
	go func() {
		for range p.rows {
		}
	}()
	p.done.Wait()
}

// decodeEnvelope decodes stored metadata as json.Unmarshal into
// eventstore.Metadata would, but faster and strictly: a key APIQ never
// writes (any spelling other than the field's own) is an error, since it
// means the row was edited.
func decodeEnvelope(meta []byte, md *eventstore.Metadata) error {
	var err error
	ok := eachMember(meta, func(key, v []byte) {
		if err != nil {
			return
		}
		switch string(key) {
		case "tenant_id":
			md.TenantID, err = jsonString(v)
		case "actor":
			err = decodeActor(v, &md.Actor)
		case "correlation_id":
			md.CorrelationID, err = jsonString(v)
		case "causation_id":
			md.CausationID, err = jsonString(v)
		case "request_id":
			md.RequestID, err = jsonString(v)
		case "client_ip":
			md.ClientIP, err = jsonString(v)
		case "user_agent":
			md.UserAgent, err = jsonString(v)
		case "schema_version":
			if string(v) != "null" {
				md.SchemaVersion, err = strconv.Atoi(string(v))
			}
		case "occurred_at":
			var s string
			if s, err = jsonString(v); err == nil && string(v) != "null" {
				err = md.OccurredAt.UnmarshalText([]byte(s))
			}
		default:
			err = fmt.Errorf("field %q is not APIQ's", key)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", key, err)
		}
	})
	if !ok {
		return fmt.Errorf("not a JSON object APIQ writes")
	}
	return err
}

func decodeActor(v []byte, a *eventstore.Actor) error {
	if string(v) == "null" {
		return nil
	}
	var err error
	ok := eachMember(v, func(key, v []byte) {
		if err != nil {
			return
		}
		switch string(key) {
		case "subject":
			a.Subject, err = jsonString(v)
		case "role":
			a.Role, err = jsonString(v)
		case "auth_method":
			a.AuthMethod, err = jsonString(v)
		case "token_id":
			a.TokenID, err = jsonString(v)
		case "sso_issuer":
			a.SSOIssuer, err = jsonString(v)
		case "sso_subject":
			a.SSOSubject, err = jsonString(v)
		default:
			err = fmt.Errorf("field %q is not APIQ's", key)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", key, err)
		}
	})
	if !ok {
		return fmt.Errorf("not a JSON object APIQ writes")
	}
	return err
}

// jsonString decodes a JSON string ("" for null).
func jsonString(v []byte) (string, error) {
	if plain, ok := plainJSONString(v); ok {
		return plain, nil
	}
	if string(v) == "null" {
		return "", nil
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}
