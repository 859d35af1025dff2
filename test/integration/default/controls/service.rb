# frozen_string_literal: true

# The deployed service, asked over HTTP through the ALB. Inputs come from the Terraform
# outputs of test/fixtures/wrapper (see kitchen.yml); input() replaced the deprecated
# attribute().

app_url = input('app_url')
app_version = input('app_version')
health_calls = input('health_calls')

# A new ALB's DNS name can take a minute or two to resolve everywhere, although
# `terraform apply` only returned once every instance passed the ALB's health checks.
# Wait (bounded) until /ping answers before judging anything.
def wait_until_answering(url, deadline_seconds)
  deadline = Time.now + deadline_seconds
  loop do
    status = begin
      http(url, open_timeout: 5, read_timeout: 5).status
    rescue StandardError
      nil
    end
    return status if status == 200 || Time.now > deadline

    sleep 5
  end
end

# Header names are case-insensitive; find Server whatever the client library made of it.
def server_header(response)
  response.headers.to_h.find { |name, _| name.to_s.casecmp?('server') }&.last
end

wait_until_answering("#{app_url}/ping", 180)

control 'root' do
  impact 1.0
  title 'GET / answers Hello World!'
  describe http("#{app_url}/", open_timeout: 10, read_timeout: 10) do
    its('status') { should cmp 200 }
    its('body') { should eq 'Hello World!' }
  end
end

control 'ping' do
  impact 1.0
  title 'GET /ping answers Pong!'
  describe http("#{app_url}/ping", open_timeout: 10, read_timeout: 10) do
    its('status') { should cmp 200 }
    its('body') { should eq 'Pong!' }
  end
end

# After a second converge with another APP_VERSION this proves the rollout: the ALB only
# reaches instances of the new version. Several requests, so that they spread over the
# fleet (round robin).
control 'version' do
  impact 1.0
  title "Every answer comes from micro-service/#{app_version}"
  servers = Array.new(10) { server_header(http("#{app_url}/ping", open_timeout: 10, read_timeout: 10)) }
  describe servers.uniq do
    it { should eq ["micro-service/#{app_version}"] }
  end
end

# /health fails 10% of the time on purpose. 40 calls with 17 or more failures (fewer
# than 24 successes) happen with probability 9e-8 if each fails independently with
# p = 0.1, so the second check fails for a broken fleet, not by chance.
control 'health' do
  impact 1.0
  title '/health answers 200 or 500, mostly 200'
  statuses = Array.new(health_calls) { http("#{app_url}/health", open_timeout: 10, read_timeout: 10).status }
  describe statuses.uniq - [200, 500] do
    it { should be_empty }
  end
  describe statuses.count(200) do
    it { should be >= (health_calls * 0.6).ceil }
  end
end
