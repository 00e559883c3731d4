# Apache Kafka (KRaft, single node) jars for the audit shipper's integration tests, fetched
# from Maven Central once and cached; tests/support/kafka.py runs the broker from them.
KAFKA_POM  := tests/fixtures/kafka/pom.xml
KAFKA_LIBS := $(CACHE)/kafka/libs
TEST_DEPS  += kafka-jars

.PHONY: kafka-jars
kafka-jars: $(KAFKA_LIBS)/.fetched

$(KAFKA_LIBS)/.fetched: $(KAFKA_POM)
	@command -v java >/dev/null && command -v mvn >/dev/null || { \
	  apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless maven; }
	rm -rf $(KAFKA_LIBS)
	mvn -q -B -f $(KAFKA_POM) dependency:copy-dependencies -DoutputDirectory=$(abspath $(KAFKA_LIBS))
	touch $@
