package backstop_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"syscall"

	backstop "github.com/backstop-policy/backstop/go"
)

func Example() {
	ctx := context.Background()
	engine, err := backstop.New(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(ctx)
	policy, err := engine.DefaultPolicy(ctx)
	if err != nil {
		log.Fatal(err)
	}
	verdict, err := policy.Classify(ctx, backstop.Failure{HTTPStatus: new(503)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(verdict.Class, verdict.Rule)
	// Output: transient builtin.http-transient
}

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

func ExampleLoadError() {
	ctx := context.Background()
	engine, _ := backstop.New(ctx)
	defer engine.Close(ctx)

	_, err := engine.LoadPolicy(ctx, "[[classify.rules]]\nid = \"a\"\nclass = \"transient\"\nhttp_statuss = 503\n", backstop.TOML)
	var perr *backstop.PolicyError
	if errors.As(err, &perr) {
		fmt.Printf("%s at %d:%d: %s\n", perr.Code, perr.Line, perr.Column, perr.Message)
	}
	// Output: unknown-field at 4:1: unknown field `http_statuss`; did you mean `http_status`?
}
