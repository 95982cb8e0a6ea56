// Implementation pending in this commit series; see private_key.h.
