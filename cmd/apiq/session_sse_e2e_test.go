package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/http/auth"
)

// TestServerSentEventsWithTheSessionCookie follows an execution's event
// stream the way the web interface's EventSource does: with the browser
// session cookie alone (EventSource sends no Authorization header).
func TestServerSentEventsWithTheSessionCookie(t *testing.T) {
	s := startService(t, nil)
	b := newBrowser(t)
	resp, err := b.Post(s.base+"/v1/auth/session", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, e2eAdminEmail, e2eAdminPassword)))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	sess := cookieOf(resp, auth.SessionCookie)
	require.NotNil(t, sess)

	id, _ := s.startExecution(s.admin, s.confirmPlan(s.admin, transformPlan()), "")
	s.awaitExecution(s.admin, id)

	stream := func(cookie string) (int, string, []string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1/executions/"+id+"/events", nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Cookie", auth.SessionCookie+"="+cookie)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var events []string
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events = append(events, name)
			}
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), events
	}
	status, contentType, events := stream(sess.Value)
	require.Equal(t, http.StatusOK, status)
	assert.True(t, strings.HasPrefix(contentType, "text/event-stream"), contentType)
	require.NotEmpty(t, events)
	assert.Equal(t, "execution.started", events[0])
	assert.Equal(t, "execution.completed", events[len(events)-1], events)

	status, _, events = stream("not-a-session")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Empty(t, events)
}
