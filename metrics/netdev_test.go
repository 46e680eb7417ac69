package metrics

import "testing"

func TestParseNetDev(t *testing.T) {
	const head = "Inter-|   Receive                                                |  Transmit\n" +
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	const lo = "    lo:     840      10    0    0    0     0          0         0      840      10    0    0    0     0       0          0\n"
	for _, tt := range []struct {
		name    string
		data    string
		want    Interface
		ok      bool
		wantErr bool
	}{
		{"pod", head + lo +
			"  eth0: 1234567    1011    0    0    0     0          0         0     7654      76    0    0    0     0       0          0\n",
			Interface{Name: "eth0", RxBytes: 1234567, TxBytes: 7654}, true, false},
		{"another interface is not reported, nor parsed", head + lo +
			"  x123: garbage\n" +
			"  eth0: 1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n",
			Interface{Name: "eth0", RxBytes: 1, TxBytes: 2}, true, false},
		{"only lo", head + lo, Interface{}, false, false},
		{"short line", head + "  eth0: 1 2 3\n", Interface{}, false, true},
		{"bad number", head + "  eth0: x 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", Interface{}, false, true},
		{"no header", "", Interface{}, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseNetDev(tt.data, "eth0")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
