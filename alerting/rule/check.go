package rule

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// Check validates rule files as the rule manager loads them: YAML with
// known fields only, groups, names, PromQL expressions, durations and
// templates. It reports every error of every file, each with its file
// and, where the format knows it, its line.
func Check(files ...string) error {
	p := parser.NewParser(parser.Options{})
	var errs []error
	for _, f := range files {
		_, es := rulefmt.ParseFile(f, false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
		for _, e := range es {
			errs = append(errs, fmt.Errorf("rule file %w", e))
		}
	}
	return errors.Join(errs...)
}

// CheckGlobs is Check over rule_files patterns as the configuration gives
// them (globs allowed); a pattern that is not a glob must name a file.
func CheckGlobs(patterns []string) error {
	files, err := expand(patterns)
	if err != nil {
		return err
	}
	return Check(files...)
}
