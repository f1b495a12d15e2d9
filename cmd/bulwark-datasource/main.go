// Command bulwark-datasource is the backend of Bulwark's Grafana data
// source plugin: Grafana starts it and talks to it over gRPC (see
// dashboards/plugin). It reads the collector's API with a viewer token.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	ds "github.com/bulwarkhq/bulwark/dashboards/plugin/datasource"
)

func main() {
	if err := datasource.Manage(ds.ID, ds.New, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error("bulwark data source stopped", "err", err.Error())
		os.Exit(1)
	}
}
