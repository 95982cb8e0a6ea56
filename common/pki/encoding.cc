// Implementation pending in this commit series; see encoding.h.
