//go:build unix

package backstop_test

import (
	"context"
	"fmt"
	"net/url"
	"syscall"

	backstop "github.com/backstop-policy/backstop/go"
)

func ExamplePolicy_ClassifyError() {
	ctx := context.Background()
	engine, _ := backstop.New(ctx)
	defer engine.Close(ctx)
	policy, _ := engine.DefaultPolicy(ctx)

	err := fmt.Errorf("download: %w", &url.Error{Op: "Get", URL: "https://x", Err: syscall.ECONNRESET})
	verdict, _ := policy.ClassifyError(ctx, err)
	fmt.Println(verdict.Class, verdict.Rule)
	// Output: transient builtin.network-errno
}
