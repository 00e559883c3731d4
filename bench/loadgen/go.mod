module stoad/bench/loadgen

go 1.22
