package sqlite_test

import (
	"testing"

	"github.com/meizhou-yiyang/yiyang/resources/storetest"
)

func FuzzAuditSearch(f *testing.F) { storetest.FuzzAuditSearch(f, openTB(f)) }
