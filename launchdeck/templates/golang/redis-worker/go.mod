module {{name}}

go 1.23

require github.com/redis/go-redis/v9 v9.7.0
