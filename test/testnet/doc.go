// Package testnet gives tests loopback addresses to listen on.
package testnet
