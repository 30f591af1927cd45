// Package repocheck is not on the data path: its tests check the repository
// itself, so that a bare clone (nothing beside it) builds and passes its own
// tests. Today that is one rule: no file refers to a path outside the
// repository.
package repocheck
