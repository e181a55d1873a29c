package main

import "os"

func main() {
	os.Exit(execute(newRootCommand(), os.Args[1:]))
}
