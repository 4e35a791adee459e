package backstop_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestReadmeSnippet builds the README's Go snippet (examples/snippets/go, a
// module that uses this one through a replace directive, as a user's would)
// and runs it from the repository root against a local server that answers
// 503 and then 200: it retries once and prints the body.
func TestReadmeSnippet(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("a,b\n1,2\n"))
	}))
	defer srv.Close()

	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "nightly")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(root, "examples", "snippets", "go")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the snippet: %v\n%s", err, out)
	}
	run := exec.Command(bin)
	run.Dir = root
	run.Env = append(os.Environ(), "DATA_URL="+srv.URL+"/part-0.csv")
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("running the snippet: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "a,b\n1,2\n") {
		t.Errorf("printed %q, want the body", out)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("the server saw %d requests, want 2 (one 503, then the retry)", n)
	}
}
