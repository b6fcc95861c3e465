// Verify a Medblocks-Signature header (Go standard library only).
//
//	MEDBLOCKS_SIGNATURE='t=…,v1=…' MEDBLOCKS_WEBHOOK_SECRET=whsec_… go run verify.go body.json
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

const toleranceS = 300

// Verify answers nil when header signs the raw payload with secret within the tolerance.
func Verify(payload []byte, header, secret string, now time.Time) error {
	timestamp := int64(-1)
	var signatures []string
	for _, part := range strings.Split(header, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch key {
		case "t":
			if t, err := strconv.ParseInt(value, 10, 64); err == nil && t >= 0 {
				timestamp = t
			}
		case "v1":
			signatures = append(signatures, value)
		}
	}
	if timestamp < 0 || len(signatures) == 0 {
		return errors.New("malformed_header")
	}
	if age := now.Unix() - timestamp; age > toleranceS || age < -toleranceS {
		return errors.New("timestamp_outside_tolerance")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10) + "."))
	mac.Write(payload)
	expected := hex.EncodeToString(mac.Sum(nil))
	for _, signature := range signatures {
		if hmac.Equal([]byte(signature), []byte(expected)) {
			return nil
		}
	}
	return errors.New("no_matching_signature")
}

func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Println("invalid: unreadable body:", err)
		os.Exit(1)
	}
	header, secret := os.Getenv("MEDBLOCKS_SIGNATURE"), os.Getenv("MEDBLOCKS_WEBHOOK_SECRET")
	if err := Verify(raw, header, secret, time.Now()); err != nil {
		fmt.Println("invalid:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}
