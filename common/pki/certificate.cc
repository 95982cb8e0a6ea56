// Implementation pending in this commit series; see certificate.h.
