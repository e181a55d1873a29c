package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/trellis-authz/trellis/bench/workload"
)

func main() {
	c, _ := workload.Preset(os.Args[1])
	s, err := workload.GenerateDir(context.Background(), c, os.Args[2])
	if err != nil {
		panic(err)
	}
	b, _ := json.MarshalIndent(s, "", " ")
	fmt.Println(string(b))
}
