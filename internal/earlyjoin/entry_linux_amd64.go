package earlyjoin

// entry is the process's first code when linked with -E EntrySymbol; see
// entry_linux_amd64.s. It is never called from Go.
func entry()
