module github.com/wirebridge/wirebridge

go 1.26
