package main

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeShowsThisExample keeps the README's library example and this
// program (which the build compiles) the same.
func TestReadmeShowsThisExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	body = body[strings.Index(body, "package main"):]
	if !strings.Contains(string(readme), "```go\n"+body+"```") {
		t.Fatal("README.md's library example differs from examples/quickstart/main.go; copy the program (from \"package main\") into the README")
	}
}
