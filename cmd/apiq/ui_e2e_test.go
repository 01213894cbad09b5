package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apiq/apiq/adapters/llm/llmtest"
	"github.com/apiq/apiq/adapters/testservers"
	"github.com/apiq/apiq/adapters/vault"
	"github.com/apiq/apiq/http/web"
)

// screenshotsEnv names a folder for the pages' screenshots (make
// screenshots sets docs/screenshots); a temporary one otherwise.
const screenshotsEnv = "APIQ_SCREENSHOTS"

// browser drives one headless Chromium tab against the service.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

// startBrowser starts Debian's Chromium headless with the flags a closed
// network needs (make chromium installs it).
func startBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	require.NoError(t, err, "headless Chromium is needed: make chromium (apt-get install chromium)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	shots := os.Getenv(screenshotsEnv)
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	b := &browser{t: t, ctx: ctx, base: base, shots: shots}
	// The first action starts the browser: no timeout on its context.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	return b
}

// do runs steps within 30 seconds.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail("%v", err)
	}
}

// eval evaluates a JavaScript expression that yields a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	require.NoError(b.t, err, expr)
	return v
}

// text is the visible text of the first element sel matches ("" if none).
func (b *browser) text(sel string) string {
	b.t.Helper()
	q, err := json.Marshal(sel)
	require.NoError(b.t, err)
	return b.eval(fmt.Sprintf(`document.querySelector(%s)?.innerText ?? ""`, q))
}

// waitText waits until the element's text contains want, and returns it.
func (b *browser) waitText(sel, want string, timeout time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var got string
	for {
		if got = b.text(sel); strings.Contains(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			b.fail("%s never showed %q; it shows %q", sel, want, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fail saves a screenshot of the page for the failure, then stops the test.
func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		path := filepath.Join(os.TempDir(), "apiq-"+strings.ReplaceAll(b.t.Name(), "/", "-")+"-failure.png")
		if os.WriteFile(path, png, 0o644) == nil {
			b.t.Logf("screenshot of the failure: %s", path)
		}
	}
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)); err == nil {
		b.t.Logf("the page shows:\n%s", text)
	}
	b.t.Fatalf(format, args...)
}

// shot saves a screenshot of the whole page as name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644))
}

// open goes to a page of the interface (a full load, like a bookmark).
func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

// nav clicks a link of the navigation bar and waits for the page's title.
func (b *browser) nav(title string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`header nav a[data-nav=%q]`, title))))
	b.waitText("main h1", title, 10*time.Second)
	b.waitGone("main > .progress")
}

// waitGone waits until no element matches sel (a page finished loading).
func (b *browser) waitGone(sel string) {
	b.t.Helper()
	q, err := json.Marshal(sel)
	require.NoError(b.t, err)
	deadline := time.Now().Add(20 * time.Second)
	for b.eval(fmt.Sprintf(`document.querySelector(%s) ? "yes" : ""`, q)) != "" {
		if time.Now().After(deadline) {
			b.fail("%s stays on the page", sel)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// login signs in through the login page (with a screenshot of it when
// shot is set).
func (b *browser) login(email, password, shot string) {
	b.t.Helper()
	if !strings.Contains(b.eval(`location.search`), "tenant=") {
		b.open("/")
	}
	b.do(
		chromedp.WaitVisible(chromedp.CSS(`#login-form`)),
		chromedp.SendKeys(chromedp.CSS(`#login-form input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`#login-form input[name=password]`), password),
	)
	if shot != "" {
		b.shot(shot)
	}
	b.do(chromedp.Click(chromedp.CSS(`#login-submit`)))
	b.waitText("header .who", email, 15*time.Second)
}

func (b *browser) logout() {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(`#logout`)), chromedp.WaitVisible(chromedp.CSS(`#login-form`)))
}

// petstoreModel answers planning requests for the petstore like a model
// would: find a pet by id, then the order whose id is the pet's (a
// reference to the earlier step's output).
func petstoreModel(t *testing.T) *llmtest.Server {
	return llmtest.New(t, llmtest.WithHandler(func(r llmtest.Request) llmtest.Reply {
		var pet, order string
		for _, name := range r.ToolNames() {
			switch {
			case strings.HasSuffix(name, "__getPetById"):
				pet = name
			case strings.HasSuffix(name, "__getOrderById"):
				order = name
			}
		}
		if pet == "" || order == "" {
			return llmtest.Text("I cannot find these operations: "+strings.Join(r.ToolNames(), ", "), llmtest.Usage(100, 10))
		}
		return llmtest.ToolCalls(llmtest.Usage(1200, 90),
			llmtest.Call{Name: pet, Arguments: map[string]any{"step_id": "pet", "petId": 10}},
			llmtest.Call{Name: order, Arguments: map[string]any{"step_id": "order", "orderId": "${ steps.pet.output.id }"}})
	}))
}

// TestWebInterface walks the web interface in headless Chromium against
// the real service: sign in, register the petstore (served by Prism) from
// a file, search its catalogue, test it, ask for a plan (the model is the
// OpenAI-protocol test server), confirm and run it, watch it finish live,
// find its rows in the audit trail, and check that a USER sees no Admin or
// Audit page. It saves a screenshot of each page.
func TestWebInterface(t *testing.T) {
	require.True(t, web.New().Built(), "the web interface was not built: run make web")
	spec := testservers.SpecPath(t, "petstore-3.0.yaml")
	prism := testservers.StartPrism(t, spec)
	model := petstoreModel(t)
	s := startService(t, map[string]string{
		"APIQ_LLM_BASE_URL": model.BaseURL(),
		"APIQ_LLM_API_KEY":  "test-key",
		"APIQ_LLM_MODEL":    "gpt-test",
	})
	s.user("uma@example.com", "USER")
	const apiKey = "petstore-secret-9f2c41"
	status, provider := s.json("POST", "/v1/sso/providers", s.admin, matrixSSOProvider)
	require.Equal(t, http.StatusCreated, status, provider)
	status, issued := s.json("POST", "/v1/tokens", s.admin, `{"name":"nightly-export"}`)
	require.Equal(t, http.StatusCreated, status, issued)
	b := startBrowser(t, s.base)

	// The tenant's sign-in page has a button per single sign-on provider.
	b.open("/?tenant=" + s.tenantID)
	b.waitText("#sso-buttons", "Sign in with Matrix IdP", 10*time.Second)
	assert.Equal(t, "/v1/auth/sso/"+provider["id"].(string)+"/start", b.eval(`document.querySelector("a.sso-provider").getAttribute("href")`))

	// Sign in; the session is a cookie the page's script cannot read.
	b.login(e2eAdminEmail, e2eAdminPassword, "login")
	assert.NotContains(t, b.eval(`document.cookie`), "apiq_session", "the session cookie is HttpOnly")
	assert.Equal(t, "[]", b.eval(`JSON.stringify(Object.keys(localStorage))`), "nothing in localStorage")
	b.waitText("main", "Connections", 10*time.Second)
	b.waitGone("main > .progress")

	// A broken document is refused, the error located in it.
	b.nav("Connections")
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#register-form input[name=name]`), "Broken"),
		chromedp.SetUploadFiles(chromedp.CSS(`#register-form input[name=document]`), []string{testservers.SpecPath(t, "spotify-3.0-broken.json")}),
		chromedp.Click(chromedp.CSS(`#register-submit`)),
	)
	refused := b.waitText("#register-messages", "invalid_document", 30*time.Second)
	assert.Contains(t, refused, "At line", "the error points into the document")
	b.shot("register-refused")

	// Register the petstore from a file, with an API key.
	b.open("/connections")
	b.waitGone("main > .progress")
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#register-form input[name=name]`), "Petstore"),
		chromedp.SetUploadFiles(chromedp.CSS(`#register-form input[name=document]`), []string{spec}),
		chromedp.SendKeys(chromedp.CSS(`#register-form input[name=base_url]`), prism.URL),
		chromedp.SetValue(chromedp.CSS(`#register-form select[name=auth_type]`), "api_key"),
		chromedp.SendKeys(chromedp.CSS(`#register-form input[name=secret]`), apiKey),
		chromedp.Click(chromedp.CSS(`#register-submit`)),
	)
	b.waitText("main h1", "Petstore", 30*time.Second)
	b.waitText("#credentials", "api_key", 5*time.Second)
	b.waitText("#warnings", "Import warnings", 5*time.Second)
	b.waitText("#endpoints", "getPetById", 15*time.Second)

	// Search the catalogue, then test the connection against Prism.
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#catalogue-search input[name=q]`), "order"),
		chromedp.Click(chromedp.CSS(`#catalogue-search button`)),
	)
	found := b.waitText("#endpoints", "getOrderById", 15*time.Second)
	assert.NotContains(t, found, "getPetById", "the search narrows the catalogue")
	assert.Contains(t, found, "destructive", "deleteOrder carries its side-effect badge")
	b.do(chromedp.Click(chromedp.CSS(`#test-connection`)))
	b.waitText("#test-result", "→", 30*time.Second)
	page := b.eval(`document.documentElement.outerHTML`)
	assert.NotContains(t, page, apiKey, "no page shows a secret")
	b.shot("connection")
	b.nav("Connections")
	b.waitText("main table", "Petstore", 5*time.Second)
	b.shot("connections")

	// Ask for a plan: the model's two calls, the reference shown as a link.
	b.nav("Ask")
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#ask-form textarea[name=prompt]`), "Find pet 10 and then the order with the same id"),
		chromedp.Click(chromedp.CSS(`#ask-submit`)),
	)
	b.waitText("#plan-status", "proposed", 60*time.Second)
	steps := b.waitText("ol.steps", "getOrderById", 5*time.Second)
	assert.Contains(t, steps, "getPetById")
	assert.Equal(t, "pet", b.text(`#step-order a.ref`), "the reference links to the earlier step")
	assert.Contains(t, b.text("#plan-tokens"), "1290 tokens")
	b.shot("ask")

	// Confirm and run it; the execution page follows it live.
	b.do(chromedp.Click(chromedp.CSS(`#confirm-plan`)))
	b.waitText("#plan-status", "confirmed", 15*time.Second)
	b.do(chromedp.Click(chromedp.CSS(`#run-plan`)))
	b.waitText("main h1", "Execution", 15*time.Second)
	b.waitText("#live", "Finished.", 60*time.Second)
	b.waitText("#execution-status", "completed", 10*time.Second)
	timeline := b.waitText("#timeline", "completed", 5*time.Second)
	for _, want := range []string{"started", "step_started", "step_succeeded"} {
		assert.Contains(t, timeline, want)
	}
	b.waitText("#steps", "order", 5*time.Second)
	b.shot("execution")
	location := b.eval(`location.pathname`)
	require.True(t, strings.HasPrefix(location, "/executions/"), location)
	executionID := strings.TrimPrefix(location, "/executions/")
	b.nav("Executions")
	b.waitText("#executions", "completed", 10*time.Second)
	b.shot("executions")

	// The execution's rows in the audit trail, and the chain verified.
	b.open("/audit?q=" + executionID)
	rows := b.waitText("#audit-results", "execution.completed", 20*time.Second)
	assert.Contains(t, rows, "execution.started")
	assert.NotContains(t, rows, "user.created", "the filter keeps the execution's rows")
	b.do(chromedp.Click(chromedp.CSS(`#verify`)))
	b.waitText("#verify-result", "valid", 30*time.Second)
	// The link wraps over two lines, so it is clicked from the page.
	b.eval(`document.querySelector("#audit-results a.stream").click(), ""`)
	b.waitText("#stream-result", "execution-"+executionID+" at version 5", 15*time.Second)
	b.shot("audit")

	// The overview counts the connection and the execution.
	b.nav("Overview")
	b.waitText("#stat-connections", "1", 10*time.Second)
	b.waitText("#success-rate", "100%", 10*time.Second)
	b.waitText("#projector-lag", "Projectors:", 5*time.Second)
	b.shot("overview")

	// Registering by URL: the document is fetched from a loopback server.
	docs := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(spec))))
	t.Cleanup(docs.Close)
	b.nav("Connections")
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#register-form input[name=name]`), "Petstore by URL"),
		chromedp.SendKeys(chromedp.CSS(`#register-form input[name=document_url]`), docs.URL+"/"+filepath.Base(spec)),
		chromedp.SendKeys(chromedp.CSS(`#register-form input[name=base_url]`), prism.URL),
		chromedp.Click(chromedp.CSS(`#register-submit`)),
	)
	b.waitText("main h1", "Petstore by URL", 30*time.Second)
	b.waitText("main dl.facts", docs.URL, 5*time.Second)

	b.nav("Admin")
	b.waitText("#users", "uma@example.com", 10*time.Second)
	b.waitText("#sso", "Matrix IdP", 10*time.Second)
	b.waitText("#sign-in-link", "/?tenant="+s.tenantID, 5*time.Second)
	b.waitText("#security", "Require a second factor", 5*time.Second)
	// API tokens: one issued through the API is listed (never its secret),
	// one issued from the page joins it, and Revoke in the list ends the
	// first: it no longer authenticates.
	b.waitText("#tokens table", "nightly-export", 10*time.Second)
	assert.NotContains(t, b.text("#tokens"), issued["token"].(string), "the list never shows a secret")
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#create-token input[name=name]`), "ui-token"),
		chromedp.Click(chromedp.CSS(`#create-token button[type=submit]`)),
	)
	b.waitText("#token-issued", "Copy it now", 10*time.Second)
	b.waitText("#tokens table", "ui-token", 10*time.Second)
	b.eval(`window.confirm = () => true, ""`)
	b.do(chromedp.Click(chromedp.CSS(`#tokens button[aria-label="revoke nightly-export"]`)))
	revokedRow := `[...document.querySelectorAll("#tokens tr")].find((r) => r.innerText.includes("nightly-export"))?.innerText ?? ""`
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(b.eval(revokedRow), "revoked"); {
		if time.Now().After(deadline) {
			b.fail("the revoked token's row shows %q", b.eval(revokedRow))
		}
		time.Sleep(100 * time.Millisecond)
	}
	status, _ = s.json("GET", "/v1/me", issued["token"].(string), "")
	assert.Equal(t, http.StatusUnauthorized, status, "a token revoked on the Admin page")
	// Key rotation: the keyring's one KEK is active and wraps every data
	// key of the tenant (the connection's API key among them).
	ring, err := vault.ReadKeyringFile(s.core.cfg.MasterKeyFile)
	require.NoError(t, err)
	b.waitText("#key-status", ring.Primary(), 10*time.Second)
	assert.Contains(t, b.text("#key-status"), "rotation complete")
	assert.Contains(t, b.text("#keys table"), "active")
	assert.NotContains(t, b.text("#keys table"), "Nothing yet", "the tenant has data keys")
	b.shot("admin")
	b.logout()

	// A USER sees neither Admin nor Audit, in the menu or by address.
	b.login("uma@example.com", "a long password", "")
	menu := b.text("header nav")
	assert.Contains(t, menu, "Executions")
	assert.NotContains(t, menu, "Admin")
	assert.NotContains(t, menu, "Audit")
	for _, path := range []string{"/admin", "/audit"} {
		b.open(path)
		b.waitText("main h1", "Not found", 10*time.Second)
	}
	b.open("/")
	b.waitText("main h1", "Overview", 10*time.Second)
	b.waitGone("main > .progress")
	b.shot("user-overview")
	b.do(chromedp.Click(chromedp.CSS(`#account`)))
	b.waitText("#totp", "Set up an authenticator app", 10*time.Second)
	b.shot("account")
}
