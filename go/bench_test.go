package backstop

import (
	"context"
	"testing"
)

// BenchmarkClassify measures one classification with a loaded policy: the
// built-in rules and a failure carrying a status, a cause chain and a
// message, so every kind of field crosses the ABI. Run it with
//
//	go test -run '^$' -bench Classify -benchmem
func BenchmarkClassify(b *testing.B) {
	ctx := context.Background()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), "", TOML)
	f := Failure{
		HTTPStatus: new(503),
		ErrorTypes: []string{"*url.Error", "*net.OpError"},
		Message:    new("GET https://storage.example/shard-7: 503 Service Unavailable"),
	}
	for b.Loop() {
		if _, err := p.Classify(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassifyCancellable is BenchmarkClassify with a cancellable
// context, which runs on interruptible instances.
func BenchmarkClassifyCancellable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := loadPolicy(b, newEngine(b, WithPoolSize(1)), "", TOML)
	f := Failure{
		HTTPStatus: new(503),
		ErrorTypes: []string{"*url.Error", "*net.OpError"},
		Message:    new("GET https://storage.example/shard-7: 503 Service Unavailable"),
	}
	for b.Loop() {
		if _, err := p.Classify(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassifyParallel measures throughput with GOMAXPROCS goroutines
// sharing the default pool.
func BenchmarkClassifyParallel(b *testing.B) {
	ctx := context.Background()
	p := loadPolicy(b, newEngine(b), "", TOML)
	f := Failure{HTTPStatus: new(503), Message: new("503 Service Unavailable")}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Classify(ctx, f); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
