// Read a file from object storage, retrying 503s under the nightly policy.
// From the repository root:
//
//	go build -C examples/snippets/go -o "$PWD/nightly" . && DATA_URL=http://... ./nightly
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	backstop "github.com/backstop-policy/backstop/go"
)

// statusError carries the HTTP status; backstop reads it through StatusCode.
type statusError struct{ code int }

func (e statusError) Error() string   { return fmt.Sprintf("HTTP %d", e.code) }
func (e statusError) StatusCode() int { return e.code }

func main() {
	ctx := context.Background()
	engine, err := backstop.New(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(ctx)
	policy, err := engine.LoadPolicyFile(ctx, "examples/nightly.toml")
	if err != nil {
		log.Fatal(err)
	}
	url, runID := os.Getenv("DATA_URL"), "nightly-2024-01-01"
	body, err := backstop.DoValue(ctx, policy, func(ctx context.Context) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, statusError{resp.StatusCode}
		}
		return io.ReadAll(resp.Body)
	}, backstop.WithIdempotencyKey(runID+"/extract"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(body))
}
