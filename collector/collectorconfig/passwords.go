package collectorconfig

import (
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Console logins: a user with password_hash (argon2id from `bulwark user
// hash-password`, or bcrypt) may log in to the console with its password,
// besides or instead of a token for the API.

func (u User) validatePassword(path configfile.Path) []configfile.Problem {
	if u.PasswordHash == "" {
		return nil
	}
	if err := auth.ParsePasswordHash(u.PasswordHash); err != nil {
		return []configfile.Problem{configfile.At(append(path, "password_hash"), "%v", err)}
	}
	return nil
}

// addPassword adds u's console login to t, if it has one.
func (u User) addPassword(t *auth.Users) error {
	if u.PasswordHash == "" {
		return nil
	}
	return t.AddPassword(u.PasswordHash, auth.User{ID: u.ID, Role: auth.Role(u.Role)})
}
