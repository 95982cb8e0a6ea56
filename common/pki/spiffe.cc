// Implementation pending in this commit series; see spiffe.h.
