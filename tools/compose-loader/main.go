// compose-loader loads compose files with the Compose specification's reference loader
// (github.com/compose-spec/compose-go) and prints the resulting model as JSON, so toolloop's tests
// assert on what `docker compose` itself would see (interpolation, merge, validation, profiles)
// without a Docker engine.
//
//	compose-loader [--profile NAME]... FILE...
//
// Prints {"project": <the loaded model>, "disabledServices": [names outside the active profiles]}.
// Exits 1 with the loader's message when the files are not a valid Compose project.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type profileList []string

func (p *profileList) String() string     { return strings.Join(*p, ",") }
func (p *profileList) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	var profiles profileList
	flag.Var(&profiles, "profile", "activate a profile (repeatable; \"*\" activates all)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: compose-loader [--profile NAME]... FILE...")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(flag.Args(), cli.WithOsEnv, cli.WithProfiles(profiles))
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	model, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	disabled := make([]string, 0, len(project.DisabledServices))
	for name := range project.DisabledServices {
		disabled = append(disabled, name)
	}
	sort.Strings(disabled)
	out, err := json.Marshal(struct {
		Project          json.RawMessage `json:"project"`
		DisabledServices []string        `json:"disabledServices"`
	}{model, disabled})
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compose-loader:", err)
	os.Exit(1)
}
