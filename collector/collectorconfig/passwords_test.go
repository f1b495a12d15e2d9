package collectorconfig

import (
	"path/filepath"
	"testing"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

func TestPasswordUsers(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "password-users.yml"))
	if err != nil {
		t.Fatal(err)
	}
	_, users, err := c.Tables()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"otto", "ada"} {
		if _, _, err := users.CheckPassword(id, "password-1"); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if u, ok := users.ByID("ada"); !ok || u.Role != auth.RoleAdmin {
		t.Errorf("ada's token: %v %v", u, ok)
	}
	_, err = Load(filepath.Join("testdata", "password-invalid-hash.yml"))
	want := `testdata/password-invalid-hash.yml:4: users[0].password_hash: argon2id parameters "m=99999999,t=1,p=1" out of bounds (m at most 1048576 KiB, t 1 to 16, p 1 to 16)`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}
}
