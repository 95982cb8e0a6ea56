// Implementation pending in this commit series; see verify.h.
