package collectorconfig

import (
	"fmt"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Tables builds the agents' and the users' token tables, refusing a token
// shared by an agent and a user.
func (c *Config) Tables() (*auth.Agents, *auth.Users, error) {
	agents, err := c.AgentTable()
	if err != nil {
		return nil, nil, err
	}
	users, err := c.UserTable()
	if err != nil {
		return nil, nil, err
	}
	if a, u, shared := agents.SharedWith(users); shared {
		return nil, nil, fmt.Errorf("agent %q and user %q share a token", a, u)
	}
	return agents, users, nil
}

// UserTable builds the API users' token table.
func (c *Config) UserTable() (*auth.Users, error) {
	t := auth.NewUsers()
	for _, u := range c.Users {
		if err := u.addPassword(t); err != nil {
			return nil, err
		}
		if u.TokenSHA256 == "" && u.TokenFile == "" && u.TokenEnv == "" {
			continue // a console login only
		}
		tok, hashed := u.TokenSHA256, true
		if tok == "" {
			var err error
			if tok, err = configfile.Secret(u.TokenFile, u.TokenEnv); err != nil {
				return nil, fmt.Errorf("user %q: %w", u.ID, err)
			}
			hashed = false
		}
		if err := t.Add(tok, hashed, auth.User{ID: u.ID, Role: auth.Role(u.Role)}); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// AgentTable builds the token table, reading token files and variables.
func (c *Config) AgentTable() (*auth.Agents, error) {
	t := auth.NewAgents()
	for _, a := range c.Agents {
		id := auth.Identity{Agent: a.ID, Vantage: a.Vantage, Country: a.Country}
		if a.CertName != "" {
			if err := t.AddCert(a.CertName, id); err != nil {
				return nil, err
			}
		}
		if a.TokenSHA256 == "" && a.TokenFile == "" && a.TokenEnv == "" {
			continue
		}
		if a.TokenSHA256 != "" {
			if err := t.AddHash(a.TokenSHA256, id); err != nil {
				return nil, err
			}
			continue
		}
		tok, err := configfile.Secret(a.TokenFile, a.TokenEnv)
		if err != nil {
			return nil, fmt.Errorf("agent %q: %w", a.ID, err)
		}
		if err := t.Add(tok, id); err != nil {
			return nil, err
		}
	}
	return t, nil
}
