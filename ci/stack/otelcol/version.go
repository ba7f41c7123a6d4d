package main

// collectorVersion is the collector release every module in go.mod is pinned to; the
// compose file pins the contrib image to the same release.
const collectorVersion = "0.165.0"
