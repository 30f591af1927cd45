// Package repocheck is not on the data path: its tests check the repository
// itself. No file refers to a path outside the repository, so that a bare
// clone (nothing beside it) builds and passes its own tests; and the
// component model holds: only the registry (internal/kinds) names a source
// or target type, and no stage imports internal/config.
package repocheck
