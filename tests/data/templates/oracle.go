// Go's text/template as the oracle for pushoverd's templates: reads {"Values", "Templates"}
// (tests/data/templates/input.json), prints each template's output or error as JSON.
// Regenerate go_vectors.json with Debian's golang-go:
//   GO111MODULE=off go run oracle.go < input.json > go_vectors.json
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"text/template"
	"time"
)

type info struct {
	ID, Message, Details, Level, Name, TaskName, Group string
	Time     time.Time
	Duration time.Duration
	Tags     map[string]string
	Fields   map[string]interface{}
}

type input struct {
	Values struct {
		ID, Message, Details, Level, Name, TaskName, Group string
		Time       string
		DurationNs int64
		Tags       map[string]string
		Fields     map[string]interface{}
	}
	Templates []string
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	t, _ := time.Parse(time.RFC3339Nano, in.Values.Time)
	v := in.Values
	data := info{v.ID, v.Message, v.Details, v.Level, v.Name, v.TaskName, v.Group, t.UTC(),
		time.Duration(v.DurationNs), v.Tags, v.Fields}
	funcs := template.FuncMap{"lower": strings.ToLower, "upper": strings.ToUpper}
	out := []map[string]string{}
	for _, src := range in.Templates {
		tmpl, err := template.New("message").Funcs(funcs).Parse(src)
		if err != nil {
			out = append(out, map[string]string{"template": src, "parse_error": err.Error()})
			continue
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, data); err != nil {
			out = append(out, map[string]string{"template": src, "exec_error": err.Error()})
			continue
		}
		out = append(out, map[string]string{"template": src, "output": buf.String()})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}
