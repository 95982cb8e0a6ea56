// Implementation pending in this commit series; see openssl_ptr.h.
