module github.com/wspipe/wspipe

go 1.26
