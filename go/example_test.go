package backstop_test

import (
	"context"
	"errors"
	"fmt"
	"log"

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
