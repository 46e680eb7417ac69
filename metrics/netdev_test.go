package metrics

import (
	"reflect"
	"testing"
)

func TestParseNetDev(t *testing.T) {
	const head = "Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	for _, tt := range []struct {
		name    string
		data    string
		want    []Interface
		wantErr bool
	}{
		{"pod", head +
			"    lo:     840      10    0    0    0     0          0         0      840      10    0    0    0     0       0          0\n" +
			"  eth0: 1234567    1011    0    0    0     0          0         0     7654      76    0    0    0     0       0          0\n",
			[]Interface{{Name: "eth0", RxBytes: 1234567, TxBytes: 7654}}, false},
		{"only lo", head + "    lo:     0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", nil, false},
		{"short line", head + "  eth0: 1 2 3\n", nil, true},
		{"no colon", head + "  eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", nil, true},
		{"bad number", head + "  eth0: x 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", nil, true},
		{"no header", "", nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNetDev(tt.data)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
