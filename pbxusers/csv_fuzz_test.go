package pbxusers_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// FuzzImportCSV feeds any bytes to a dry-run CSV import: it must answer
// with a result or an error wrapping ErrInvalid (an *ImportError naming
// lines), never panic or fail otherwise. Fuzz with
//
//	go test ./pbxusers -run '^$' -fuzz FuzzImportCSV -fuzztime 60s
func FuzzImportCSV(f *testing.F) {
	for _, seed := range []string{
		goodCSV,
		"userName\n",
		"userName,extension,email\nada,201,ada@acme.example\n",
		"\xEF\xBB\xBFuserName,profiles,teams,features\nbob,Agent;Nobody,Sales,voicemail;teleport\n",
		"userName,\"email\nada,\"x\n",
		"userName,password,mustChangePassword\nada,correct horse battery,maybe\n",
		"userName,workPhone,backupNumber\nada,030 123,tel:+4930123;ext=12\n",
	} {
		f.Add([]byte(seed))
	}
	d := mustDir(f)
	mustFixturesTB(f, d)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := d.ImportCSV(context.Background(), "acme", bytes.NewReader(data), pbxusers.ImportOptions{DryRun: true, MaxRows: 200})
		if err != nil && !errors.Is(err, pbxusers.ErrInvalid) && !errors.Is(err, pbxusers.ErrConflict) {
			t.Fatalf("import of %q: unexpected error %T: %v", data, err, err)
		}
	})
}
