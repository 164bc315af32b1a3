package universe

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/universe-operator/universe-operator/errs"
)

// maxDefinitionBytes bounds the decompressed package inside a label.
const maxDefinitionBytes = 16 << 20

// DecodeDefinitionLabel reads a DCOS_PACKAGE_DEFINITION label value (as
// written by DefinitionLabel, or by Cosmos) back into the package revision it
// describes. Optional fields that are null count as absent. Location is
// "DCOS_PACKAGE_DEFINITION"; Repository and Source are empty. Errors are
// errs.Permanent.
func DecodeDefinitionLabel(label string) (*Package, error) {
	p, err := decodeDefinitionLabel(label)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("DCOS_PACKAGE_DEFINITION: %w", err))
	}
	return p, nil
}

func decodeDefinitionLabel(label string) (*Package, error) {
	env, err := base64.StdEncoding.DecodeString(strings.TrimSpace(label))
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	var e struct {
		Metadata struct {
			ContentType     string `json:"Content-Type"`
			ContentEncoding string `json:"Content-Encoding"`
		} `json:"metadata"`
		Data *string `json:"data"`
	}
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, fmt.Errorf("envelope is not JSON: %w", err)
	}
	if e.Data == nil {
		return nil, errors.New(`envelope has no "data"`)
	}
	data, err := base64.StdEncoding.DecodeString(*e.Data)
	if err != nil {
		return nil, fmt.Errorf("data is not base64: %w", err)
	}
	switch strings.ToLower(e.Metadata.ContentEncoding) {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("data is not gzip: %w", err)
		}
		plain, err := io.ReadAll(io.LimitReader(zr, maxDefinitionBytes+1))
		if err != nil {
			return nil, fmt.Errorf("data is not gzip: %w", err)
		}
		if len(plain) > maxDefinitionBytes {
			return nil, fmt.Errorf("package definition larger than %d bytes", maxDefinitionBytes)
		}
		data = plain
	case "", "identity":
	default:
		return nil, fmt.Errorf("unsupported Content-Encoding %q", e.Metadata.ContentEncoding)
	}
	p, _, err := parseServedPackage(data)
	if err != nil {
		return nil, err
	}
	p.Location = "DCOS_PACKAGE_DEFINITION"
	return p, nil
}
