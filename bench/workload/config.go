package workload

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors of the generator.
var (
	// ErrInvalidConfig: a Config field is out of range.
	ErrInvalidConfig = errors.New("invalid workload config")
	// ErrUnknownPreset: Preset names no known preset.
	ErrUnknownPreset = errors.New("unknown workload preset")
	// ErrUnknownFormat: the relationship format is neither ndjson nor text.
	ErrUnknownFormat = errors.New("unknown relationship format")
)

// Relationship file formats.
const (
	FormatNDJSON = "ndjson" // {"relationship": "..."} per line: the import endpoint's body
	FormatText   = "text"   // one relationship per line: the policy-file format
)

// Query classes, one per kind of question the workload asks.
const (
	ClassDatasetRead     = "nested_group_dataset_read"
	ClassFieldMasked     = "field_masked_read"
	ClassModelRun        = "model_run"
	ClassDeployApproval  = "deployment_approval"
	ClassLookupDatasets  = "lookup_readable_datasets"
	maxTeamDepthAllowed  = 5
	defaultAllowedShare  = 0.5
	defaultFutureMargin  = 2 * 365 * 24 * time.Hour
	defaultPastMaxOffset = 365 * 24 * time.Hour
)

// Classes lists the query classes in the order they are generated.
var Classes = []string{ClassDatasetRead, ClassFieldMasked, ClassModelRun, ClassDeployApproval, ClassLookupDatasets}

// Config sizes and shapes a workload. Every count is per organization except
// Orgs, QueriesPerClass and Writes, which are totals.
type Config struct {
	Seed int64 `json:"seed"`

	Orgs                  int `json:"orgs"`
	UsersPerOrg           int `json:"users_per_org"`
	ServiceAccountsPerOrg int `json:"service_accounts_per_org"`
	TeamsPerOrg           int `json:"teams_per_org"`
	// TeamDepth is the number of team levels (1 = no nesting), at most 5.
	TeamDepth          int `json:"team_depth"`
	ProjectsPerOrg     int `json:"projects_per_org"`
	DatasetsPerProject int `json:"datasets_per_project"`
	FieldsPerDataset   int `json:"fields_per_dataset"`
	ModelsPerProject   int `json:"models_per_project"`
	// Cyclic adds back edges between nested teams (team A in team B in team A).
	Cyclic bool `json:"cyclic"`
	// BigTeams is the number of teams (the first ones) that every active user
	// of the organization also joins: groups as large as the organization.
	BigTeams int `json:"big_teams,omitempty"`
	// HubTeams is the number of teams the organization's first user joins
	// directly (at most TeamsPerOrg): one user in very many groups.
	HubTeams int `json:"hub_teams,omitempty"`

	// QueriesPerClass is the total number of queries of each class.
	QueriesPerClass int `json:"queries_per_class"`
	// AllowedShare is the share of queries of each class expected "allowed"
	// (for lookups: with a non-empty answer), in [0, 1].
	AllowedShare float64 `json:"allowed_share"`
	// Writes is the number of relationships in the write pool (writes.txt).
	Writes int `json:"writes"`

	// ReferenceTime is the instant expected answers are computed at; generated
	// expirations fall before it or at least FutureMargin after it.
	ReferenceTime time.Time     `json:"reference_time"`
	FutureMargin  time.Duration `json:"future_margin"`

	// Format of the relationship file: FormatNDJSON or FormatText.
	Format string `json:"format"`
}

// DefaultReferenceTime is the fixed reference time of the presets.
var DefaultReferenceTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultConfig returns the default preset: about 100,000 relationships.
func DefaultConfig() Config {
	return Config{
		Seed:                  1,
		Orgs:                  10,
		UsersPerOrg:           400,
		ServiceAccountsPerOrg: 40,
		TeamsPerOrg:           40,
		TeamDepth:             5,
		ProjectsPerOrg:        8,
		DatasetsPerProject:    36,
		FieldsPerDataset:      8,
		ModelsPerProject:      12,
		QueriesPerClass:       2000,
		AllowedShare:          defaultAllowedShare,
		Writes:                1000,
		ReferenceTime:         DefaultReferenceTime,
		FutureMargin:          defaultFutureMargin,
		Format:                FormatNDJSON,
	}
}

// Presets names the built-in sizes.
var Presets = []string{"tiny", "default", "large", "deep", "wide"}

// Preset returns a named preset: "tiny" (a few thousand relationships, for
// tests), "default" (about 100,000), "large" (about 10,000,000, streamed),
// "deep" (one organization of 1,000 teams nested 5 levels and 11,000 users,
// about 75,000 relationships: few repeated sub-problems, so the cache helps
// little) or "wide" (one organization whose first two teams hold all of its
// ~100,000 active users and whose first user is in 5,000 teams).
func Preset(name string) (Config, error) {
	c := DefaultConfig()
	switch name {
	case "default", "":
	case "tiny":
		c.Orgs = 2
		c.UsersPerOrg = 60
		c.ServiceAccountsPerOrg = 6
		c.TeamsPerOrg = 12
		c.ProjectsPerOrg = 2
		c.DatasetsPerProject = 6
		c.FieldsPerDataset = 3
		c.ModelsPerProject = 5
		c.QueriesPerClass = 60
		c.Writes = 50
	case "large":
		c.Orgs = 1000
		c.QueriesPerClass = 20000
		c.Writes = 10000
	case "deep":
		c.Orgs = 1
		c.UsersPerOrg = 11_000
		c.ServiceAccountsPerOrg = 200
		c.TeamsPerOrg = 1000
		c.ProjectsPerOrg = 40
		c.QueriesPerClass = 2500
		c.Writes = 2000
	case "wide":
		c.Orgs = 1
		c.UsersPerOrg = 112_000
		c.ServiceAccountsPerOrg = 200
		c.TeamsPerOrg = 5000
		c.BigTeams = 2
		c.HubTeams = 5000
		c.ProjectsPerOrg = 40
		c.QueriesPerClass = 2500
		c.Writes = 2000
	default:
		return Config{}, fmt.Errorf("%w %q; use one of %v", ErrUnknownPreset, name, Presets)
	}
	return c, nil
}

// Validate checks every field and names the first one out of range.
func (c Config) Validate() error {
	check := func(name string, v, lo, hi int) error {
		if v < lo || v > hi {
			return fmt.Errorf("%w: %s is %d; it must be between %d and %d", ErrInvalidConfig, name, v, lo, hi)
		}
		return nil
	}
	const big = 1 << 24
	for _, f := range []struct {
		name      string
		v, lo, hi int
	}{
		{"Orgs", c.Orgs, 1, big},
		{"UsersPerOrg", c.UsersPerOrg, 10, big},
		{"ServiceAccountsPerOrg", c.ServiceAccountsPerOrg, 1, big},
		{"TeamsPerOrg", c.TeamsPerOrg, 2, big},
		{"TeamDepth", c.TeamDepth, 1, maxTeamDepthAllowed},
		{"ProjectsPerOrg", c.ProjectsPerOrg, 1, big},
		{"DatasetsPerProject", c.DatasetsPerProject, 1, big},
		{"FieldsPerDataset", c.FieldsPerDataset, 0, big},
		{"ModelsPerProject", c.ModelsPerProject, 1, big},
		{"QueriesPerClass", c.QueriesPerClass, 0, big * 8},
		{"Writes", c.Writes, 0, big * 8},
	} {
		if err := check(f.name, f.v, f.lo, f.hi); err != nil {
			return err
		}
	}
	if c.BigTeams < 0 || c.BigTeams > c.TeamsPerOrg {
		return fmt.Errorf("%w: BigTeams is %d; it must be between 0 and TeamsPerOrg (%d)", ErrInvalidConfig, c.BigTeams, c.TeamsPerOrg)
	}
	if c.HubTeams < 0 || c.HubTeams > c.TeamsPerOrg {
		return fmt.Errorf("%w: HubTeams is %d; it must be between 0 and TeamsPerOrg (%d)", ErrInvalidConfig, c.HubTeams, c.TeamsPerOrg)
	}
	if c.TeamsPerOrg < c.TeamDepth {
		return fmt.Errorf("%w: TeamsPerOrg (%d) must be at least TeamDepth (%d) to build a chain that deep", ErrInvalidConfig, c.TeamsPerOrg, c.TeamDepth)
	}
	if c.AllowedShare < 0 || c.AllowedShare > 1 {
		return fmt.Errorf("%w: AllowedShare is %g; it must be between 0 and 1", ErrInvalidConfig, c.AllowedShare)
	}
	if c.ReferenceTime.IsZero() {
		return fmt.Errorf("%w: ReferenceTime is zero; set it (DefaultReferenceTime is %s)", ErrInvalidConfig, DefaultReferenceTime.Format(time.RFC3339))
	}
	if c.FutureMargin < time.Hour {
		return fmt.Errorf("%w: FutureMargin is %s; it must be at least 1h", ErrInvalidConfig, c.FutureMargin)
	}
	if c.Format != FormatNDJSON && c.Format != FormatText {
		return fmt.Errorf("%w %q; use %q or %q", ErrUnknownFormat, c.Format, FormatNDJSON, FormatText)
	}
	return nil
}
