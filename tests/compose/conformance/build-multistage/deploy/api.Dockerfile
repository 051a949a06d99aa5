FROM golang AS production
