// Implementation pending in this commit series; see issue.h.
