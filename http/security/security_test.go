package security

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() { gin.SetMode(gin.TestMode) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func serve(e *gin.Engine, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	e := gin.New()
	e.Use(Headers())
	e.GET("/x", func(c *gin.Context) { c.Status(http.StatusOK) })
	rec := serve(e, "GET", "/x", "")
	assert.Equal(t, ContentSecurityPolicy, rec.Header().Get("Content-Security-Policy"))
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
	assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
	assert.Empty(t, rec.Header().Get("Strict-Transport-Security"), "plain HTTP gets no HSTS")
}

func TestCORS(t *testing.T) {
	t.Parallel()
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.Use(CORS(CORSConfig{Origins: ParseOrigins(" https://app.example.com/ ,https://b.example")}))
	e.GET("/x", func(c *gin.Context) { c.Status(http.StatusOK) })
	e.NoMethod(func(c *gin.Context) { c.Status(http.StatusMethodNotAllowed) })
	e.NoRoute(func(c *gin.Context) { c.Status(http.StatusNotFound) })

	tests := []struct {
		name, method, origin string
		preflight            bool
		status               int
		allowOrigin          string
	}{
		{"allowed simple request", "GET", "https://app.example.com", false, 200, "https://app.example.com"},
		{"allowed preflight", "OPTIONS", "https://b.example", true, 204, "https://b.example"},
		{"other origin request", "GET", "https://evil.example", false, 200, ""},
		{"other origin preflight", "OPTIONS", "https://evil.example", true, 403, ""},
		{"no origin", "GET", "", false, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			headers := []string{"Origin", tt.origin}
			if tt.preflight {
				headers = append(headers, "Access-Control-Request-Method", "POST")
			}
			rec := serve(e, tt.method, "/x", "", headers...)
			assert.Equal(t, tt.status, rec.Code)
			assert.Equal(t, tt.allowOrigin, rec.Header().Get("Access-Control-Allow-Origin"))
			if tt.allowOrigin != "" {
				assert.Equal(t, "true", rec.Header().Get("Access-Control-Allow-Credentials"))
			}
			if tt.preflight && tt.status == 204 {
				assert.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "X-CSRF-Token")
				assert.Contains(t, rec.Header().Get("Access-Control-Allow-Methods"), "PATCH")
			}
		})
	}
}

func TestLimiterRefusesBeyondBurstAndRefills(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	l, err := NewLimiter(RateConfig{Rate: 2, Burst: 3}, clk.now)
	require.NoError(t, err)
	e := gin.New()
	e.GET("/x", l.Middleware("tenant", func(c *gin.Context) string { return c.Query("tenant") }),
		func(c *gin.Context) { c.Status(http.StatusOK) })

	for i, remaining := range []string{"2", "1", "0"} {
		rec := serve(e, "GET", "/x?tenant=a", "")
		require.Equal(t, http.StatusOK, rec.Code, "request %d", i)
		assert.Equal(t, "3", rec.Header().Get("RateLimit-Limit"))
		assert.Equal(t, remaining, rec.Header().Get("RateLimit-Remaining"))
	}
	rec := serve(e, "GET", "/x?tenant=a", "")
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Equal(t, "0", rec.Header().Get("RateLimit-Remaining"))
	assert.Equal(t, "2", rec.Header().Get("RateLimit-Reset"), "3 tokens at 2/s refill in 1.5s")
	assert.Contains(t, rec.Body.String(), `"code":"rate_limited"`)
	assert.Contains(t, rec.Body.String(), `"retry_after_seconds":1`)

	assert.Equal(t, http.StatusOK, serve(e, "GET", "/x?tenant=b", "").Code, "another tenant has its own bucket")
	assert.Equal(t, http.StatusOK, serve(e, "GET", "/x", "").Code, "no key, no limit")
	clk.add(500 * time.Millisecond)
	assert.Equal(t, http.StatusOK, serve(e, "GET", "/x?tenant=a", "").Code, "a token came back")
	assert.Equal(t, http.StatusTooManyRequests, serve(e, "GET", "/x?tenant=a", "").Code)
}

func TestLimiterConfig(t *testing.T) {
	t.Parallel()
	_, err := NewLimiter(RateConfig{}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rate must be positive")
	assert.Contains(t, err.Error(), "burst must be positive")
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	th, err := NewLoginThrottle(ThrottleConfig{AccountFailures: 3, AddressFailures: 5, Window: time.Minute}, clk.now)
	require.NoError(t, err)
	e := gin.New()
	e.POST("/login", th.Middleware(), func(c *gin.Context) {
		var body struct{ Email, Password string }
		require.NoError(t, c.BindJSON(&body), "the handler still reads the body")
		if body.Password != "right" {
			c.Status(http.StatusUnauthorized)
			return
		}
		c.Status(http.StatusOK)
	})
	login := func(email, password, ip string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(`{"email":"`+email+`","password":"`+password+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = ip + ":1234"
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}

	for range 3 {
		require.Equal(t, http.StatusUnauthorized, login("Ann@example.com", "wrong", "10.0.0.1").Code)
	}
	rec := login("ann@example.com", "right", "10.0.0.2")
	require.Equal(t, http.StatusTooManyRequests, rec.Code, "the account is blocked from any address, even with the right password")
	assert.Contains(t, rec.Body.String(), `"limit":"login_account"`)
	assert.Equal(t, "60", rec.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusOK, login("bob@example.com", "right", "10.0.0.1").Code, "other accounts from the address still log in")

	for _, email := range []string{"c@x", "d@x"} {
		require.Equal(t, http.StatusUnauthorized, login(email, "wrong", "10.0.0.1").Code)
	}
	rec = login("e@x", "right", "10.0.0.1")
	require.Equal(t, http.StatusTooManyRequests, rec.Code, "5 failures from one address block it")
	assert.Contains(t, rec.Body.String(), `"limit":"login_address"`)

	clk.add(time.Minute)
	assert.Equal(t, http.StatusOK, login("ann@example.com", "right", "10.0.0.1").Code, "the window ended")
	require.Equal(t, http.StatusUnauthorized, login("ann@example.com", "wrong", "10.0.0.3").Code)
	require.Equal(t, http.StatusOK, login("ann@example.com", "right", "10.0.0.3").Code)
	for range 2 {
		require.Equal(t, http.StatusUnauthorized, login("ann@example.com", "wrong", "10.0.0.3").Code)
	}
	assert.Equal(t, http.StatusOK, login("ann@example.com", "right", "10.0.0.3").Code, "a success cleared the account's count")
}
